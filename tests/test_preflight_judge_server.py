"""``python -m speciarl.testing.openai_server``: the stand-in judge a user starts to smoke-test a
paper recipe on a CPU, talked to by the real start-up check and the real LLM judge."""

import signal
import subprocess
import sys

from speciarl.judges.base import Pair
from speciarl.judges.endpoint import check_judge_endpoint
from speciarl.judges.llm import LLMJudge, LLMJudgeSettings
from speciarl.verdict import Verdict

JUDGE = "Qwen/Qwen3-30B-A3B-Instruct-2507"
SERVER = [sys.executable, "-m", "speciarl.testing.openai_server", "--port", "0"]


def test_the_stand_in_judge_grades_by_its_hierarchy_until_interrupted():
    server = subprocess.Popen(
        [*SERVER, "--model", JUDGE, "--hierarchy", "synthetic", "--otherwise", "abstain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline()
        assert line.startswith(f"judge serving {JUDGE} at http://127.0.0.1:"), server.stderr.read()
        base_url = line.split(" at ")[1].strip()
        check_judge_endpoint(base_url, JUDGE)
        judge = LLMJudge(LLMJudgeSettings(endpoint=base_url, model=JUDGE))
        judgements = judge.judge(
            [
                Pair("plain red circle", "plain red circle"),
                Pair("plain red circle", "red circle"),
                Pair("plain red circle", "circle"),
                Pair("plain red circle", "blue square"),
                Pair("plain red circle", "a zebra"),
                Pair("zebra", "horse"),
            ]
        )
        assert [judgement.verdict for judgement in judgements] == [
            Verdict.SPECIFIC,
            Verdict.LESS_SPECIFIC,
            Verdict.GENERIC,
            Verdict.WRONG,
            Verdict.WRONG,  # closed world: the synthetic hierarchy knows every valid answer
            Verdict.ABSTAIN,  # --otherwise: a label the hierarchy does not know
        ]
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=10) == 0


def test_a_hierarchy_it_cannot_read_is_one_line():
    completed = subprocess.run(
        [*SERVER, "--model", JUDGE, "--hierarchy", "birds"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.splitlines()[-1].endswith(
        "error: --hierarchy: birds: neither a dataset (cub200, fgvc_aircraft, stanford_cars, "
        "flowers102, food101, oxford_pets, caltech101, synthetic) nor a hierarchy file"
    )
