import re

import pytest

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking.search import (
    Comparison,
    OrderBy,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
)


def test_full_grammar():
    f = parse_filter(
        "metrics.x > 0.5 and params.model = 'rf' and tags.\"my key\" LIKE 'a%' "
        "and attributes.status = 'FINISHED' AND tags.`b k` ILIKE '%Z' and params.p IN ('a', 'b') "
        "and params.q NOT IN ('c') and metrics.`val loss` <= -1e-3 and attribute.start_time >= 10 and run_name != 'x'"
    )
    assert f == (
        Comparison("metric", "x", ">", 0.5),
        Comparison("param", "model", "=", "rf"),
        Comparison("tag", "my key", "LIKE", "a%"),
        Comparison("attribute", "status", "=", "FINISHED"),
        Comparison("tag", "b k", "ILIKE", "%Z"),
        Comparison("param", "p", "IN", ("a", "b")),
        Comparison("param", "q", "NOT IN", ("c",)),
        Comparison("metric", "val loss", "<=", -0.001),
        Comparison("attribute", "start_time", ">=", 10.0),
        Comparison("attribute", "run_name", "!=", "x"),
    )


def test_dotted_metric_keys_and_empty_filter():
    assert parse_filter("metrics.train.loss < 1") == (Comparison("metric", "train.loss", "<", 1.0),)
    assert parse_filter("") == ()
    assert parse_filter(None) == ()


@pytest.mark.parametrize(
    "bad,why",
    [
        ("metrics.x > 'a'", "must be compared with a number"),
        ("params.a > '1'", "not valid for param"),
        ("metrics.a LIKE 'x'", "not valid for numeric"),
        ("foo = 1", "invalid identifier"),
        ("bogus.x = 1", "invalid entity type"),
        ("metrics.a = 1 or metrics.b = 2", "OR is not supported"),
        ("params.a = 'x' and", "identifier"),
        ("params.a IN 'x'", "parenthesised list"),
        ("attributes.nope = 'x'", "invalid attribute"),
        ("params.a = 'x' params.b = 'y'", "expected AND"),
    ],
)
def test_errors_name_the_problem(bad, why):
    with pytest.raises(InvalidParameterValue, match=why):
        parse_filter(bad)


def test_order_by():
    assert parse_order_by(["metrics.rmse DESC", "attributes.start_time", "params.`a b` asc", 'tags."x" DESC']) == [
        OrderBy("metric", "rmse", False),
        OrderBy("attribute", "start_time", True),
        OrderBy("param", "a b", True),
        OrderBy("tag", "x", False),
    ]
    with pytest.raises(InvalidParameterValue, match="order_by"):
        parse_order_by(["nonsense thing DESC"])


def test_page_tokens_round_trip_and_reject_garbage():
    assert decode_page_token(encode_page_token(40)) == 40
    with pytest.raises(InvalidParameterValue, match="page_token"):
        decode_page_token("not-a-token")


@pytest.mark.parametrize(
    "bad,where",
    [
        ("metrics.a = 1 or metrics.b = 2", "at position 14"),
        ("foo = 1", "at position 0"),
        ("params.a = 'x' and", "at position 18 (end)"),
    ],
)
def test_errors_give_the_position(bad, where):
    with pytest.raises(InvalidParameterValue, match=re.escape(where)):
        parse_filter(bad)
