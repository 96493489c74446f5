"""Fixtures for data-layer tests."""

from __future__ import annotations

import pytest

from tests.data.synthetic_frames import random_frames


@pytest.fixture
def frames_factory():
    return random_frames
