"""Typed serializers: each kind of object comes back as it went in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from cairn.core.serialization import JSON, NPY, PARQUET, SKOPS, TEXT, decode, encode
from cairn.errors import InvalidInput


@pytest.mark.parametrize(
    ("value", "media_type"),
    [
        (3, JSON),
        (2.5, JSON),
        (True, JSON),
        (None, JSON),
        ([1, "a", None], JSON),
        ({"k": [1.5]}, JSON),
        ("text", TEXT),
        (np.arange(6).reshape(2, 3), NPY),
    ],
)
def test_plain_values_and_arrays_round_trip(value, media_type):
    encoded = encode(value)
    assert encoded.media_type == media_type
    back = decode(encoded.data, encoded.media_type)
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(back, value)
    else:
        assert back == value and type(back) is type(value)


def test_frames_and_estimators_round_trip():
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]})
    encoded = encode(frame)
    assert encoded.media_type == PARQUET
    pd.testing.assert_frame_equal(decode(encoded.data, encoded.media_type), frame)

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    encoded = encode(model)
    assert (encoded.media_type, encoded.suffix) == (SKOPS, ".skops")
    back = decode(encoded.data, encoded.media_type)
    assert isinstance(back, LogisticRegression)
    np.testing.assert_allclose(back.coef_, model.coef_)


def test_an_estimator_class_or_a_foreign_object_is_refused_naming_its_type():
    with pytest.raises(InvalidInput) as caught:
        encode(LogisticRegression)  # the class, not a fitted instance
    assert caught.value.value == "type"
    with pytest.raises(InvalidInput, match="object"):
        encode(object())
