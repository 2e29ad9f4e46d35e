"""What the recogniser should expect to hear from this rep: their customers, their contacts and the
playbook's tag words. Passed to the engine as hotwords (FunASR's contextual model honours them,
Whisper gets them in its prompt) and, for the names, to `name_correction` after recognition."""
from __future__ import annotations

from collections.abc import Iterable

from config.playbook import Playbook

# Whisper's prompt holds ~224 tokens; FunASR's hotword list works best short. Names come first:
# they are what recognition gets wrong and what matters most in the record.
MAX_HOTWORDS = 60


def hotwords(customer_names: Iterable[str], contact_names: Iterable[str], playbook: Playbook,
             limit: int = MAX_HOTWORDS) -> list[str]:
    words: list[str] = []
    tag_words = [w for tag in playbook.tags for w in (tag.label, *tag.synonyms)]
    for word in (*customer_names, *contact_names, *tag_words):
        word = (word or "").strip()
        if word and word not in words:
            words.append(word)
    return words[:limit]
