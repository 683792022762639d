"""The command-line options that name a chat model, shared by `skeletonllm mine` and `skeletonllm teach`.

--base-url and --model name a model at an OpenAI-compatible endpoint; --model alone names a local transformers model
folder. The old spellings --llm-url, --llm-model and --llm-local are accepted as hidden aliases.
"""

from __future__ import annotations

import argparse


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --base-url, --model, --api-key-env, --requests-per-s, --timeout-s and --max-retries."""
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--llm-url", dest="base_url", help=argparse.SUPPRESS)
    parser.add_argument("--model", help="model name at --base-url, or a local transformers model folder")
    parser.add_argument("--llm-model", "--llm-local", dest="model", help=argparse.SUPPRESS)
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY",
                        help="environment variable holding the API key (default OPENAI_API_KEY); never logged")
    parser.add_argument("--requests-per-s", type=float, help="rate limit for --base-url (default none)")
    parser.add_argument("--timeout-s", type=float, default=60, help="per-request timeout for --base-url (default 60)")
    parser.add_argument("--max-retries", type=int, default=5,
                        help="retries of 429/5xx/timeouts for --base-url (default 5)")


def chat_client(args: argparse.Namespace):
    """The remote.chat.ChatClient that the options of add_model_arguments describe."""
    from skeletonllm.remote.chat import ChatClient

    return ChatClient(args.base_url, args.model, api_key_env=args.api_key_env, timeout_s=args.timeout_s,
                      max_retries=args.max_retries, requests_per_s=args.requests_per_s)
