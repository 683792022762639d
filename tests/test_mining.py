"""`skeletonllm mine`: the embedding/kinematic/llm/file backends, the id-based comparison, outputs and errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pytest

from skeletonllm.cli import main
from skeletonllm.data.classes import NTU120_CLASSES
from skeletonllm.data.synth.actions import SYNTH_CLASSES
from skeletonllm.mining.compare import compare

NTU60 = NTU120_CLASSES[:60]
REFERENCE_60 = Path(str(resources.files("skeletonllm").joinpath("resources", "ntu60_similar_actions.json")))


CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {% if m['content'] is string %}{{ m['content'] }} "
                 "{% else %}{% for p in m['content'] %}{% if p['type'] == 'image' %}<image> {% else %}{{ p['text'] }} "
                 "{% endif %}{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")


def mine(*argv: str) -> int:
    """Run `skeletonllm mine ARGV` in-process through the console script's entry point."""
    return main(["mine", *argv])


def word_tokenizer(words: list[str], **special):
    """A whitespace-split word-level tokenizer over [UNK], <eos>, the chat roles and `words`, with CHAT_TEMPLATE (built
    offline: no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = ["[UNK]", "<eos>", "<|system|>", "<|user|>", "<|assistant|>", *words]
    model = Tokenizer(models.WordLevel({word: i for i, word in enumerate(vocab)}, unk_token="[UNK]"))
    model.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=model, unk_token="[UNK]", eos_token="<eos>", pad_token="<eos>",
                                   chat_template=CHAT_TEMPLATE, **special)


def text_config(vocab_size: int):
    """A one-layer Llama config; hidden size >= vocab_size so that a bigram script fits (script_bigrams)."""
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, hidden_size=max(16, vocab_size), intermediate_size=16,
                       num_hidden_layers=1, num_attention_heads=1, num_key_value_heads=1, max_position_embeddings=4096,
                       bos_token_id=1, eos_token_id=1, pad_token_id=1)


def script_bigrams(decoder, lm_head, tokenizer, reply: list[str]) -> None:
    """Make a random Llama decoder write `reply` (tokens) after the generation prompt, then <eos>: each layer's writes
    to the residual stream are zeroed, embeddings are one-hot, and lm_head maps every token to its successor."""
    import torch

    sequence = ["<|assistant|>", *reply, "<eos>"]
    successor = dict(zip(sequence, sequence[1:]))
    vocab_size, hidden = decoder.embed_tokens.weight.shape
    with torch.no_grad():
        for layer in decoder.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        decoder.embed_tokens.weight.copy_(torch.eye(vocab_size, hidden))
        lm_head.weight.zero_()
        for token, index in tokenizer.get_vocab().items():
            lm_head.weight[tokenizer.convert_tokens_to_ids(successor.get(token, "<eos>")), index] = 10.0


def tiny_causal_lm(path: Path, words: list[str], reply: list[str] | None = None) -> Path:
    """A tiny Llama causal LM and its tokenizer with a chat template, saved to path: random weights, or scripted to
    answer `reply` (script_bigrams)."""
    import torch
    from transformers import LlamaForCausalLM

    tokenizer = word_tokenizer(words)
    torch.manual_seed(0)
    model = LlamaForCausalLM(text_config(len(tokenizer)))
    if reply is not None:
        script_bigrams(model.model, model.lm_head, tokenizer, reply)
    tokenizer.save_pretrained(path)
    model.save_pretrained(path)
    return path


def test_compare_matches_reference_classes_by_id_not_by_name():
    reference = {"eat food": ["walk", "jump"], "walk": ["jump", "eat food"], "jump": ["walk", "eat food"]}
    names = ["eat meal/snack", "walking", "jump up"]  # same classes, other wording
    mined = {"eat meal/snack": ["walking", "jump up"], "walking": ["eat meal/snack", "jump up"],
             "jump up": ["eat meal/snack", "walking"]}
    k1 = compare(mined, names, reference, 1)
    # class 0: {1} vs {1} -> 1; class 1: {0} vs {2} -> 0; class 2: {0} vs {1} -> 0
    assert k1["overlap_at_k"] == pytest.approx(1 / 3) and k1["jaccard"] == pytest.approx(1 / 3)
    assert k1["per_class"][0]["reference_class"] == "eat food" and k1["per_class"][0]["shared"] == ["walking"]
    k2 = compare(mined, names, reference, 2)
    assert k2["overlap_at_k"] == 1.0 and k2["jaccard"] == 1.0 and k2["classes"] == 3


def test_compare_rejects_a_reference_of_other_classes():
    with pytest.raises(ValueError, match="matched by id"):
        compare({"a": ["b"], "b": ["a"]}, ["a", "b"], {"x": ["y"], "y": ["z"], "z": ["x"]}, 1)


def test_file_backend_renames_the_paper_list_to_official_names(tmp_path, capsys):
    assert mine("--classes", "ntu60", "--backend", "file", "--file", str(REFERENCE_60), "--json",
                "--out", str(tmp_path)) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["outputs"]["json"] == str(tmp_path / "hard_negatives.json")
    mined = json.loads((tmp_path / "hard_negatives.json").read_text())
    assert list(mined) == list(NTU60)
    assert mined["eat meal/snack"][:2] == ["drink water", "brushing teeth"]  # paper: "drink water", "brush teeth"


@pytest.fixture(scope="module")
def embedding_run(tmp_path_factory):
    """The contract command on NTU-60 (no prepared data), run once: (exit code, printed JSON, out folder)."""
    out = tmp_path_factory.mktemp("mine_embedding")
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = mine("--classes", "ntu60", "--backend", "embedding", "--top-k", "5", "--compare", str(REFERENCE_60),
                    "--json", "--out", str(out))
    return code, json.loads(printed.getvalue()), out


def test_embedding_contract_prints_overlap_and_jaccard(embedding_run):
    code, result, out = embedding_run
    assert code == 0
    assert {"overlap_at_k", "jaccard", "classes"} <= set(result) and result["classes"] == 60
    # chance level for 5 of 59 classes is 5/59 = 0.085; the packaged MiniLM gets well above it
    assert 0.3 < result["overlap_at_k"] <= 1 and 0.2 < result["jaccard"] <= result["overlap_at_k"]
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["overlap_at_k"] == result["overlap_at_k"] and len(comparison["per_class"]) == 60


def test_embedding_outputs_json_markdown_png(embedding_run):
    _, _, out = embedding_run
    mined = json.loads((out / "hard_negatives.json").read_text())
    assert list(mined) == list(NTU60)
    for name, neighbours in mined.items():
        assert len(neighbours) == 5 and len(set(neighbours)) == 5 and name not in neighbours
        assert set(neighbours) <= set(NTU60)
    assert "wear on glasses" in mined["take off glasses"]  # a textual twin is among the nearest
    table = (out / "hard_negatives.md").read_text().splitlines()
    assert sum(line.startswith("| ") and line[2].isdigit() for line in table) == 60
    assert (out / "hard_negatives.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_kinematic_backend_on_prepared_synth(tmp_path):
    from skeletonllm.data.prepare import prepare
    from skeletonllm.data.synth.dataset import generate_dataset

    raw = generate_dataset(tmp_path / "raw", seed=1, subjects=2, repetitions=1, cameras=1, formats=("ntu",))
    prepare("synth", raw, tmp_path / "data", workers=1)
    assert mine("--classes", str(tmp_path / "data"), "--backend", "kinematic", "--top-k", "3",
                "--out", str(tmp_path / "out")) == 0
    mined = json.loads((tmp_path / "out" / "hard_negatives.json").read_text())
    assert mined["sit down"][0] in {"stand up", "squat down"}
    interactions = {"shake hands", "hug another person", "push another person", "walk towards each other",
                    "walk apart from each other"}
    for name in interactions:  # two-person classes are nearest to other two-person classes
        # (2 of 3: in the canonical body frame, walking apart in profile is close to walking in place)
        assert len(set(mined[name]) & interactions) >= 2, (name, mined[name])


def test_kinematic_without_prepared_data_is_a_clear_error(tmp_path, capsys):
    assert mine("--classes", "ntu60", "--backend", "kinematic", "--out", str(tmp_path)) == 1
    assert "prepared dataset" in capsys.readouterr().err and not any(tmp_path.iterdir())


@pytest.mark.parametrize("argv, message", [
    (["--classes", "no-such-set"], "not a dataset with built-in classes"),
    (["--classes", "ntu60", "--top-k", "60"], "--top-k must be between 1 and 59"),
    (["--classes", "ntu60", "--backend", "file"], "needs --file"),
    (["--classes", "ntu60", "--backend", "llm"], "needs --base-url and --model"),
])
def test_bad_input_is_reported(argv, message, tmp_path, capsys):
    assert mine(*argv, "--out", str(tmp_path)) == 1
    err = capsys.readouterr().err
    assert err.startswith("skeletonllm mine: error: ") and message in err


class RankingServer(BaseHTTPRequestHandler):
    """A chat-completions endpoint that ranks the numbered candidates sharing the most words with the action."""

    requests: list[str] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        question = body["messages"][-1]["content"]
        type(self).requests.append(question)
        action = set(question.split("\n")[0].removeprefix("Action: ").split())
        candidates = [line.split(". ", 1) for line in question.split("\n") if line[:1].isdigit() and ". " in line]
        ranked = sorted(candidates, key=lambda c: (-len(action & set(c[1].split())), int(c[0])))
        answer = f"Ranking: {json.dumps([int(number) for number, _ in ranked])}"
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    RankingServer.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), RankingServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_llm_backend_ranks_through_the_endpoint_and_resumes_from_its_cache(chat_server, tmp_path, capsys):
    argv = ["--classes", "synth", "--backend", "llm", "--base-url", chat_server, "--model", "ranker",
            "--top-k", "2", "--out", str(tmp_path), "--json"]
    assert mine(*argv) == 0
    mined = json.loads((tmp_path / "hard_negatives.json").read_text())
    assert len(RankingServer.requests) == len(mined) == 24
    assert mined["wave right hand"][0] == "wave left hand" and mined["put on hat"][0] == "take off hat"
    cache = tmp_path / "llm_cache.jsonl"
    lines = cache.read_text().splitlines()
    assert len(lines) == 24
    # a run killed after 10 answers (plus a torn line) resumes: only the 14 missing classes are asked again
    cache.write_text("\n".join(lines[:10]) + "\n" + lines[10][:25])
    RankingServer.requests = []
    assert mine(*argv) == 0
    assert len(RankingServer.requests) == 14
    assert json.loads((tmp_path / "hard_negatives.json").read_text()) == mined
    RankingServer.requests = []
    assert mine(*argv) == 0 and RankingServer.requests == []  # everything cached now


def test_llm_backend_stops_with_a_clear_message_when_the_endpoint_is_unreachable(tmp_path, capsys):
    """Through the old spellings --llm-url and --llm-model, kept as hidden aliases."""
    import socket

    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert mine("--classes", "synth", "--backend", "llm", "--llm-url", f"http://127.0.0.1:{port}/v1",
                "--llm-model", "ranker", "--max-retries", "0", "--out", str(tmp_path)) == 1
    error = capsys.readouterr().err
    assert "cannot reach" in error and f"127.0.0.1:{port}" in error
    assert not (tmp_path / "hard_negatives.json").exists()


def test_llm_backend_runs_a_local_causal_lm_and_reports_an_unusable_answer(tmp_path, capsys):
    """A tiny random Llama with a chat template, written here, stands in for a local model: its babble is cached and
    reported clearly, and nothing is written."""
    model = tiny_causal_lm(tmp_path / "lm", ["Action", ":", "wave", "hand", "kick"])
    assert mine("--classes", "synth", "--backend", "llm", "--model", str(model), "--out", str(tmp_path / "out")) == 1
    assert "class 'drink water': the answer holds no JSON list" in capsys.readouterr().err
    cached = [json.loads(line)["record"] for line in (tmp_path / "out" / "llm_cache.jsonl").read_text().splitlines()]
    assert [(r["class"], r["model"].startswith("local:")) for r in cached] == [("drink water", True)]
    assert isinstance(cached[0]["answer"], str) and not (tmp_path / "out" / "hard_negatives.json").exists()


def test_llm_backend_ranks_with_a_local_causal_lm(tmp_path):
    """A tiny Llama scripted to answer "[2, 1]" through its chat template: the answer is parsed for every class."""
    model = tiny_causal_lm(tmp_path / "lm", ["[2, 1]"], reply=["[2, 1]"])
    assert mine("--classes", "synth", "--backend", "llm", "--model", str(model), "--top-k", "2",
                "--out", str(tmp_path / "out")) == 0
    mined = json.loads((tmp_path / "out" / "hard_negatives.json").read_text())
    for name in SYNTH_CLASSES:
        candidates = [other for other in SYNTH_CLASSES if other != name]
        assert mined[name] == [candidates[1], candidates[0]]
