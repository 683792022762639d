"""Remote model access shared by mining and teacher: the chat-completions client and the resumable answer cache."""

from skeletonllm.remote.cache import CacheCorruptError, JsonlCache
from skeletonllm.remote.chat import ChatClient, ChatError, EndpointUnreachable

__all__ = ["CacheCorruptError", "ChatClient", "ChatError", "EndpointUnreachable", "JsonlCache"]
