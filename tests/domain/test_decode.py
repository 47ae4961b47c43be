"""Every undecodable input gets a kind of its own, whichever msgspec is installed."""

from __future__ import annotations

import inspect

import msgspec
import pytest

from incidents.contracts import registry
from incidents.contracts.models import SCHEMAS, RawMention
from incidents.domain.enrichment import InvalidInput, decode_json

DECODER = msgspec.json.Decoder(RawMention)
GOOD = (
    b'{"id":"vk:1","platform":"vk","source":{"id":"s"},"text":"%s",'
    b'"created_at":"2026-03-02T09:00:00+03:00"}'
)


def kind_of(value: bytes, decoder: object = DECODER) -> str:
    with pytest.raises(InvalidInput) as info:
        decode_json(value, decoder, "RawMention")  # type: ignore[arg-type]
    return info.value.kind


@pytest.mark.parametrize(
    "value",
    [
        GOOD
        % b"\xd0\x9d\xd0\xb5 \xff\xfe \xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd0\xb5\xd1\x82",
        GOOD % b"\xd0",  # a Cyrillic letter cut in half
        b"\xff\xfe{}",
    ],
)
def test_broken_utf8_is_invalid_encoding(value: bytes) -> None:
    assert kind_of(value) == "invalid_encoding"


class _OldDecoder:
    """msgspec before 0.19 raised UnicodeDecodeError itself."""

    def decode(self, value: bytes) -> object:
        return value.decode("utf-8")


def test_broken_utf8_is_invalid_encoding_with_a_decoder_that_raises_unicode_errors() -> None:
    assert kind_of(GOOD % b"\xff", _OldDecoder()) == "invalid_encoding"


def test_the_reason_names_the_byte() -> None:
    with pytest.raises(InvalidInput) as info:
        decode_json(GOOD % b"ab\xff", DECODER, "RawMention")
    assert "not UTF-8" in info.value.reason and "at byte" in info.value.reason


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (b'{"id": ', "invalid_json"),
        (b"", "invalid_json"),
        (GOOD.replace(b'"vk"', b'"myspace"') % b"x", "schema"),
    ],
)
def test_valid_utf8_keeps_its_own_kind(value: bytes, kind: str) -> None:
    assert kind_of(value) == kind


def test_valid_input_decodes() -> None:
    m = decode_json(GOOD % "Нет света".encode(), DECODER, "RawMention")
    assert isinstance(m, RawMention) and m.text == "Нет света"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_descriptions_do_not_depend_on_docstring_indentation(name: str) -> None:
    """The generated contract carries docstrings as cleandoc reads them, whatever msgspec did."""

    def descriptions(node: object) -> list[str]:
        if isinstance(node, dict):
            own = [node["description"]] if isinstance(node.get("description"), str) else []
            return own + [d for v in node.values() for d in descriptions(v)]
        if isinstance(node, list):
            return [d for v in node for d in descriptions(v)]
        return []

    found = descriptions(registry.render_schema(name))
    assert found, "every contract documents its messages"
    for text in found:
        assert text == inspect.cleandoc(text), text
