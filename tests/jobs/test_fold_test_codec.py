"""A walk-forward test run forwarded by a worker: the web node decodes it to the same result,
with the checks of a local run's result, and refuses what they refuse."""

from __future__ import annotations

import numpy as np
import pytest

from app.data.catalog import DatasetCatalog
from app.engine import RunConfig
from app.jobs.fold_test_codec import decode_result, encode_failure, encode_result
from app.research.walkforward import FoldTestError
from app.runs import PreparedRun, RunService
from app.runs.execute import execute
from sandbox import ProtocolError
from sandbox.protocol import Frame, encode
from sandbox.supervisor import ResultCopy
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE, make_settings, write_sample


@pytest.fixture(scope="module")
def forwarded(tmp_path_factory: pytest.TempPathFactory) -> tuple[PreparedRun, object, Frame]:
    tmp = tmp_path_factory.mktemp("fold-test")
    write_sample(tmp)
    prepared = RunService.from_settings(make_settings(tmp)).prepare_stored(
        code=SMA_CODE,
        dataset=SAMPLE_NAME,
        config_data=RunConfig(symbol="TESTUSDT").to_dict(),
        catalog=DatasetCatalog(tmp),
    )
    capture = ResultCopy()
    result = execute(prepared, capture=capture)
    assert capture.frame is not None
    return prepared, result, capture.frame


def test_the_forwarded_result_decodes_to_the_runs_own(forwarded: tuple) -> None:  # type: ignore[type-arg]
    prepared, result, frame = forwarded
    decoded = decode_result(encode_result(result, frame), prepared)
    assert len(decoded.trades) > 0
    assert decoded.trades == result.trades  # streamed before the result, and with it
    assert decoded.orders == result.orders
    assert decoded.logs == result.logs
    assert decoded.metrics == result.metrics
    assert (decoded.equity.equity == result.equity.equity).all()


def test_a_tampered_result_is_refused_by_the_local_checks(forwarded: tuple) -> None:  # type: ignore[type-arg]
    prepared, result, frame = forwarded
    raw = encode_result(result, frame)
    with pytest.raises(ProtocolError, match="not exactly one message"):
        decode_result(raw + b"\0" * 4, prepared)  # a frame and a bit
    arrays = {name: values.copy() for name, values in frame.arrays.items()}
    arrays["marks.cash"][0] = np.nan
    with pytest.raises(ProtocolError, match="finite"):
        decode_result(encode(frame.body, arrays), prepared)
    with pytest.raises(ProtocolError):
        decode_result(encode({**frame.body, "type": "progress"}, frame.arrays), prepared)


def test_a_failed_test_run_comes_back_as_its_sentence(forwarded: tuple) -> None:  # type: ignore[type-arg]
    prepared = forwarded[0]
    with pytest.raises(FoldTestError) as failed:
        decode_result(encode_failure("the strategy raised ValueError: boom\x1b[31m."), prepared)
    assert "\x1b" not in failed.value.reason and "boom" in failed.value.reason
    with pytest.raises(ProtocolError, match="no reason"):
        decode_result(b'{"failed": true}', prepared)
