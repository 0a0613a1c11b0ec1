"""Enums that carry their Japanese label, and how every model stores an enum column."""

from __future__ import annotations

import enum
from typing import Self

from sqlalchemy import Enum


class LabelledEnum(enum.StrEnum):
    """A string enum whose members are written `NAME = "value", "ラベル"`; `.label` is the label."""

    _value_: str
    label: str

    def __new__(cls, value: str, label: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


def stored_enum(cls: type[enum.Enum], length: int = 20) -> Enum:
    """A column type storing the enum's values as plain strings (no native ENUM), so adding a value
    needs no DDL on PostgreSQL."""
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])
