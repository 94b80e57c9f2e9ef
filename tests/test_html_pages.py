"""The three HTML pages (report, comparison, rollouts), made by the real commands from real
stores and logs, then opened in headless Chromium: no console error, every image decodes, no
request leaves the file, the filters and the search change what is shown, and an answer that
tries to break out of the page (``</script>``, a tag) stays text. Screenshots go to the test's
temporary folder, or to ``$SPECIARL_HTML_SHOTS`` for a person who wants to look at them. Only the
tests that open a page in Chromium need it (and websocket-client); the rest always run."""

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from data_fixtures import make_cub
from eval_folders import cli, error_of, predicted_folder
from speciarl.data.build import build_split
from speciarl.data.prepare import select_samples
from speciarl.data.registry import get_dataset
from speciarl.data.synthetic import species
from speciarl.evaluate.html.examples import spread
from speciarl.evaluate.html.report_page import write_report_html
from speciarl.evaluate.html.shared import embed_json
from speciarl.judges.factory import build_judge
from speciarl.prompts import load_prompt
from speciarl.testing.browser import BrowserError, Chromium, chromium_binary
from speciarl.train.config import RewardSettings
from speciarl.train.reward_fn import SpeciaRLReward
from speciarl.train.rollout_log import RolloutLog
from speciarl.train.setup import DATA_FOLDER

HOSTILE = "</script><script>window.__pwned=1</script><img src=http://x.invalid/a.png>"
"""An answer that would run a script and fetch an image if a page pasted it in as HTML."""
IMAGES_DECODED = (
    "Promise.all([...document.images].map((image) => image.decode()"
    ".then(() => image.naturalWidth, () => 0)))"
)


def start_chromium() -> Chromium:
    """A headless Chromium, or a skip where it or websocket-client is not installed."""
    if chromium_binary() is None:
        pytest.skip("chromium is not installed (`make chromium` installs it)")
    pytest.importorskip("websocket", reason="websocket-client is not installed (the dev extra)")
    return Chromium()


@pytest.fixture(scope="module")
def browser():
    with start_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: ``$SPECIARL_HTML_SHOTS`` when set, else a temporary folder."""
    chosen = os.environ.get("SPECIARL_HTML_SHOTS")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("shots")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Two evaluations of the same 12 synthetic images, made and reported by the commands."""
    base = tmp_path_factory.mktemp("html")
    made = {}
    for name, answers in (("base", ["circle", HOSTILE]), ("tuned", ["red circle", "circle"])):
        out = predicted_folder(base / name, answers, subset=12)
        cli("verify", "--out", out)
        cli("report", "--out", out, "--resamples", "20", "--name", name)
        made[name] = out
    return made


def open_page(browser, path: Path, shot: Path):
    """Load a page, check it like a user's browser would, and keep a screenshot at ``shot``."""
    load = browser.load(path)
    assert load.problems == []
    assert load.requests, "the page itself is a request"
    assert all(url.startswith(("file:", "data:")) for url in load.requests), load.requests
    widths = browser.evaluate(IMAGES_DECODED)
    assert widths and all(width > 0 for width in widths), widths
    assert browser.evaluate("window.__pwned") is None
    assert browser.screenshot(shot).read_bytes().startswith(b"\x89PNG")
    return load


def cards(browser, selector: str = "section.gallery") -> list[dict]:
    """The cards a gallery shows now: id, text, verdicts of their predictions, step."""
    return browser.evaluate(
        f"[...document.querySelectorAll('{selector} .card')].map((card) => ({{"
        "id: card.dataset.id, step: card.dataset.step, text: card.textContent,"
        "verdicts: [...card.querySelectorAll('.prediction')].map((p) => p.dataset.verdict)}))"
    )


def choose(browser, value: str, selector: str = "section.gallery") -> None:
    browser.evaluate(
        f"(() => {{ const filter = document.querySelector('{selector} .filter');"
        f"filter.value = {json.dumps(value)}; filter.dispatchEvent(new Event('change')); }})()"
    )


def search(browser, text: str, selector: str = "section.gallery") -> None:
    browser.evaluate(
        f"(() => {{ const box = document.querySelector('{selector} .search');"
        f"box.value = {json.dumps(text)}; box.dispatchEvent(new Event('input')); }})()"
    )


def test_report_page_shows_the_answers_filters_and_searches(browser, folders, shots):
    page = folders["base"] / "report.html"
    assert page.is_file()
    open_page(browser, page, shots / "report.html.png")
    assert browser.evaluate("document.querySelectorAll('#results tr').length") == 3
    assert browser.evaluate("document.querySelectorAll('.plots img').length") == 2
    everything = cards(browser)
    assert len(everything) == 12
    answers = browser.evaluate("[...document.querySelectorAll('.answer')].map(a => a.textContent)")
    assert HOSTILE in answers  # shown as text, not run
    assert browser.evaluate("document.querySelectorAll('.card img').length") == 12

    choose(browser, "generic")
    generic = cards(browser)
    assert 0 < len(generic) < len(everything)
    assert all("generic" in card["verdicts"] for card in generic)
    choose(browser, "")
    search(browser, "striped")
    striped = cards(browser)
    assert 0 < len(striped) < len(everything)
    assert all("striped" in card["text"] for card in striped)
    search(browser, "no such label anywhere")
    assert cards(browser) == []
    assert browser.report().problems == []


def test_compare_page_pairs_the_answers_and_counts_transitions(browser, folders, shots):
    page, figure = shots / "compare.html", shots / "compare_figure.png"
    result = cli("compare", folders["base"], folders["tuned"], "--html", page, "--figure", figure)
    assert result.stdout.startswith("| model |")  # the table is still printed
    open_page(browser, page, shots / "compare.html.png")
    matrix = browser.evaluate(
        "[...document.querySelectorAll('#matrix tr')].slice(1).map((row) => "
        "row.lastElementChild.textContent)"
    )
    assert sum(int(total) for total in matrix) == 12
    everything = cards(browser)
    assert len(everything) == 12
    options = browser.evaluate(
        "[...document.querySelectorAll('.filter option')].slice(1).map((o) => o.value)"
    )
    assert options[0] == "generic → less specific"  # improvements first
    choose(browser, options[0])
    improved = cards(browser)
    assert 0 < len(improved) < len(everything)
    assert all(card["verdicts"] == ["generic", "less specific"] for card in improved)
    choose(browser, "")
    search(browser, "red")
    assert 0 < len(cards(browser)) <= len(everything)

    with Image.open(figure) as drawn:
        assert drawn.format == "PNG" and drawn.height > 600
    shown = re.search(r"wrote \S+ \((.*)\)", result.stderr).group(1).split(", ")
    assert len(shown) == 4
    chosen = cli(
        "compare", folders["base"], folders["tuned"], "--figure", figure, "--examples", shown[-1]
    )
    assert chosen.stderr.strip().endswith(f"({shown[-1]})")


def test_compare_options_need_two_evaluation_folders(folders, tmp_path):
    runs = [folders["base"], folders["tuned"]]
    result = cli("compare", *runs, runs[0], "--html", tmp_path / "x.html", code=2)
    assert error_of(result) == "--html, --figure and --examples compare two runs; 3 were given"
    result = cli("compare", *runs, "--figure", tmp_path / "x.png", "--examples", "nope", code=2)
    assert error_of(result).startswith("--examples: nope: not among the images both runs")
    report = runs[1] / "report.json"
    result = cli("compare", runs[0], report, "--html", tmp_path / "x.html", code=2)
    assert error_of(result).startswith(f"{report}: not an evaluation folder")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A run folder as `speciarl train` leaves it: the built training set, and a rollout log
    written by the real reward function over four steps (a format failure in each group at
    step 0, one hostile answer in each group)."""
    run = tmp_path_factory.mktemp("run")
    samples = select_samples("synthetic", "train", subset=6, seed=0)
    build_split(samples, run / DATA_FOLDER, load_prompt("general"))
    known = {info.name: info for info in species()}
    judge = build_judge("cascade", hierarchy=get_dataset("synthetic").hierarchy())
    reward = SpeciaRLReward(
        judge,
        RewardSettings(),
        num_generations=4,
        prompt_name="general",
        rollout_log=RolloutLog(run),
    )
    for step in range(4):
        rows = []
        for sample in samples:
            info = known[sample.label]
            levels = (info.order, info.family, info.name)
            answers = [levels[(k + step) % 3] for k in range(3)] + [HOSTILE]
            texts = [f"<think>step {step}</think><answer>{answer}</answer>" for answer in answers]
            if step == 0:
                texts[1] = "<think>no answer at all"
            rows += [(sample.sample_id, sample.label, text) for text in texts]
        reward(
            prompts=[None] * len(rows),
            completions=[[{"role": "assistant", "content": text}] for _, _, text in rows],
            label=[label for _, label, _ in rows],
            sample_id=[sample_id for sample_id, _, _ in rows],
            trainer_state=SimpleNamespace(global_step=step),
        )
    with (run / "rollouts" / "rank0.jsonl").open("a") as log:
        log.write('{"step": 4, "sample_id": "synthetic/tr')  # torn by a crash
    return run


def test_rollouts_summary_and_page(browser, run_folder, tmp_path, shots):
    table = cli("rollouts", run_folder).stdout.strip().splitlines()
    assert table[0].split()[:3] == ["step", "rollouts", "groups"]
    assert [line.split()[:3] for line in table[1:5]] == [[str(s), "24", "6"] for s in range(4)]
    assert table[1].split()[-3] == "25.0%"  # one format failure in each group of step 0
    assert table[5] == f"skipped {run_folder}/rollouts/rank0.jsonl:97: not JSON (a torn line?)"

    page = tmp_path / "rollouts.html"
    cli("rollouts", run_folder, "--html", page, "--groups-per-step", "4")
    open_page(browser, page, shots / "rollouts.html.png")
    assert browser.evaluate("document.querySelectorAll('#steps tr').length") == 5
    assert "1 line(s) of the log" in browser.evaluate(
        "document.getElementById('skipped').textContent"
    )
    everything = cards(browser)
    assert len(everything) == 16  # 4 of 6 groups in each of 4 steps
    choose(browser, "2")
    step_two = cards(browser)
    assert len(step_two) == 4 and {card["step"] for card in step_two} == {"2"}
    assert all(len(card["verdicts"]) == 4 for card in step_two)
    assert all("ground truth" in card["text"] and "c* " in card["text"] for card in step_two)
    choose(browser, "")
    search(browser, "striped")
    found = cards(browser)
    assert 0 < len(found) < len(everything)
    assert browser.report().problems == []


def test_rollouts_of_a_folder_without_a_log_is_a_clear_error(tmp_path):
    result = cli("rollouts", tmp_path, code=2)
    assert error_of(result).startswith(f"{tmp_path}: no rollout log")


def test_images_that_cannot_be_found_or_read_are_placeholders(browser, tmp_path, shots):
    root = tmp_path / "cub"
    folder = make_cub(root)
    out = predicted_folder(tmp_path / "eval", ["bird"], dataset="cub200", root=root, subset=None)
    cli("verify", "--out", out)
    cli("report", "--out", out, "--resamples", "20")  # no --root: the images are not found
    open_page(browser, out / "report.html", shots / "report_without_images.html.png")
    assert browser.evaluate("document.querySelectorAll('.thumb.placeholder').length") == 2
    assert browser.evaluate("document.querySelectorAll('.card img').length") == 0
    warning = browser.evaluate("document.getElementById('missing-images').textContent")
    assert "2 image(s) could not be shown" in warning and "--root" in warning

    (folder / "images/014.Indigo_Bunting/Indigo_Bunting_0003.jpg").write_bytes(b"not an image")
    cli("report", "--out", out, "--resamples", "20", "--root", root)
    open_page(browser, out / "report.html", shots / "report_with_root.html.png")
    assert browser.evaluate("document.querySelectorAll('.card img').length") == 1
    assert browser.evaluate("document.querySelectorAll('.thumb.placeholder').length") == 1
    assert "not an image Pillow can read (1)" in browser.evaluate(
        "document.getElementById('missing-images').textContent"
    )


def test_the_check_sees_a_page_that_reaches_out(browser, tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://x.invalid/a.png"></body></html>')
    load = browser.load(page)
    assert "http://x.invalid/a.png" in load.requests
    assert browser.evaluate(IMAGES_DECODED) == [0]


def test_embedded_json_cannot_close_its_script_block():
    text = str(embed_json({"answer": "</script><!-- & \u2028"}))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"answer": "</script><!-- & \u2028"}


def test_the_report_page_is_bounded_and_deterministic(folders, tmp_path):
    out = folders["base"]
    first = write_report_html(out, per_verdict=2).read_text()
    again = write_report_html(out, per_verdict=2).read_text()
    assert first == again
    data = json.loads(
        re.search(r'<script type="application/json" id="page-data">(.*?)</script>', first).group(1)
    )
    (gallery,) = data["galleries"]
    ids = [item["id"] for item in gallery["examples"]]
    assert ids == sorted(ids) and 0 < len(ids) <= 2 * len(gallery["options"])
    for item in gallery["examples"]:
        assert item["predictions"][0]["index"] == 0 and "reasoning" in item["predictions"][0]
    write_report_html(out)  # leave the default page for the other tests


def test_spread_picks_evenly_and_keeps_few():
    assert spread(list(range(10)), 20) == list(range(10))
    assert spread(list(range(10)), 3) == [0, 3, 6]


def test_dollar_signs_in_answers_and_names_are_drawn_as_text(tmp_path):
    """Answers and run names are drawn as typed: ``$\\frac$`` would stop matplotlib, and
    ``$5 and $6`` would become a formula, if math parsing were on."""
    runs = []
    for name, answer in (("plain", "a $\\frac$ b"), ("tuned $\\frac$", "price $5 and $6")):
        out = predicted_folder(tmp_path / f"run{len(runs)}", [answer], subset=4)
        cli("verify", "--out", out)
        cli("report", "--out", out, "--resamples", "20")
        # The name is set afterwards: the report's own trade-off plot (evaluate/plots.py) still
        # parses math in model names, which this test is not about.
        report = json.loads((out / "report.json").read_text())
        (out / "report.json").write_text(json.dumps({**report, "model": name}))
        runs.append(out)
    figure, page = tmp_path / "figure.png", tmp_path / "compare.html"
    cli("compare", *runs, "--figure", figure, "--html", page)
    with Image.open(figure) as drawn:
        assert drawn.format == "PNG" and drawn.height > 600
    assert "price $5 and $6" in page.read_text()


def rollout_record(step, sample_id, verdict, c_star, reward, round_=None):
    """A rollout-log record as the reward function writes it; ``round`` only under dynamic
    sampling."""
    record = {
        "step": step,
        "sample_id": sample_id,
        "prompt": "general",
        "completion": f"<think>step {step}</think><answer>{verdict}</answer>",
        "answer": verdict,
        "answer_status": "ok",
        "verdict": verdict,
        "rewarded_as": verdict,
        "judge": "lexical",
        "cached": False,
        "c_star": c_star,
        "reward": reward,
    }
    return record if round_ is None else {**record, "round": round_}


def write_log(run: Path, records) -> Path:
    log = run / "rollouts" / "rank0.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text("".join(json.dumps(record) + "\n" for record in records))
    return log


@pytest.fixture(scope="module")
def rounds_run(tmp_path_factory):
    """A hand-written log: at step 0 dynamic sampling generated two rounds, image 0 in both
    (round 1 without signal, dropped; round 2 kept); step 1 records carry no round."""
    first, second = "synthetic/train/0", "synthetic/train/1"
    run = tmp_path_factory.mktemp("rounds")
    write_log(
        run,
        [
            rollout_record(0, first, "generic", "generic", 1.0, round_=1),
            rollout_record(0, first, "generic", "generic", 1.0, round_=1),
            rollout_record(0, second, "specific", "specific", 1.0, round_=1),
            rollout_record(0, second, "wrong", "specific", 0.0, round_=1),
            rollout_record(0, first, "specific", "specific", 1.0, round_=2),
            rollout_record(0, first, "generic", "specific", 0.0, round_=2),
            rollout_record(1, first, "abstain", "abstain", 1.0),
            rollout_record(1, first, "wrong", "abstain", 0.0),
        ],
    )
    return run


def page_data(page: Path) -> dict:
    text = page.read_text()
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', text)
    return json.loads(found.group(1))


def test_two_rounds_of_one_image_in_one_step_are_two_groups(rounds_run, tmp_path):
    from speciarl.evaluate.html.rollout_steps import summarize_rollouts

    zero, one = summarize_rollouts(rounds_run).steps
    assert (zero.rollouts, zero.groups, one.groups) == (6, 3, 1)
    shares = zero.c_star_shares()
    assert shares["generic"] == pytest.approx(1 / 3) and shares["specific"] == pytest.approx(2 / 3)
    table = cli("rollouts", rounds_run).stdout.splitlines()
    assert [line.split()[:3] for line in table[1:]] == [["0", "6", "3"], ["1", "2", "1"]]

    page = tmp_path / "rollouts.html"
    cli("rollouts", rounds_run, "--html", page)
    groups = [
        (group["step"], group["round"], group["id"], group["c_star"], len(group["rollouts"]))
        for group in page_data(page)["groups"]
    ]
    assert groups == [
        (0, 1, "synthetic/train/0", "generic", 2),
        (0, 2, "synthetic/train/0", "specific", 2),
        (0, 1, "synthetic/train/1", "specific", 2),
        (1, None, "synthetic/train/0", "abstain", 2),
    ]
    text = page.read_text()
    assert "every rollout generated, kept for the update or dropped" in text
    assert "synthetic train: 1,920 samples listed, only the shown images read" in text


def test_the_rollouts_page_names_each_groups_round(browser, rounds_run, tmp_path, shots):
    page = tmp_path / "rollouts.html"
    cli("rollouts", rounds_run, "--html", page)
    open_page(browser, page, shots / "rollouts_rounds.html.png")
    lines = [card["text"] for card in cards(browser)]
    assert sum("step 0 · round 2 · synthetic/train/0" in line for line in lines) == 1
    assert sum("step 1 · synthetic/train/0" in line for line in lines) == 1


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"verdict": "great"}, "unknown verdict 'great'; expected one of wrong, abstain"),
        ({"c_star": "more specific"}, "unknown c* 'more specific'; expected one of abstain,"),
        ({"round": "2"}, "round '2' is not a generation round"),
        ({"round": 0}, "round 0 is not a generation round"),
    ],
)
def test_a_log_record_the_trainer_never_writes_is_named(tmp_path, change, problem):
    good = rollout_record(0, "synthetic/train/0", "generic", "generic", 1.0)
    log = write_log(tmp_path, [good, {**good, **change}])
    assert error_of(cli("rollouts", tmp_path, code=2)).startswith(f"{log}:2: {problem}")


def test_an_unknown_verdict_in_a_store_is_named(folders, tmp_path):
    import shutil

    copy = shutil.copytree(folders["tuned"], tmp_path / "tuned")
    (store,) = (copy / "synthetic").glob("verdicts-*.jsonl")
    lines = store.read_text().splitlines()
    record = json.loads(lines[0])
    lines[0] = json.dumps({**record, "verdict": "excellent"})
    store.write_text("\n".join(lines) + "\n")
    result = cli("compare", folders["base"], copy, "--html", tmp_path / "x.html", code=2)
    where = f"{store}: {record['sample_id']} prediction {record['prediction_index']}"
    assert error_of(result).startswith(f"{where}: unknown verdict 'excellent'; expected one of")


def test_only_unavailable_images_become_placeholders(monkeypatch):
    from speciarl.data.registry import REGISTRY
    from speciarl.evaluate.html.images import ImageFinder

    finder = ImageFinder()
    found = finder.thumbnails(["cub200/test/0", "synthetic/test/0", "synthetic/test/99999"])
    assert found["cub200/test/0"] is None and found["synthetic/test/99999"] is None
    assert found["synthetic/test/0"].startswith("data:image/jpeg;base64,")
    assert dict(finder.missing) == {
        "cub200 test: cub200: give the dataset root (--root DIR)": 1,
        "synthetic test has no image 99999": 1,
    }
    assert [line.split(":")[0] for line in finder.loaded] == ["synthetic test"]

    def broken_loader(*_, **__):
        raise TypeError("a bug in a loader")

    monkeypatch.setitem(REGISTRY, "broken", SimpleNamespace(load=broken_loader))
    with pytest.raises(TypeError, match="a bug in a loader"):
        ImageFinder().thumbnails(["broken/test/0"])


def test_report_before_any_page_is_a_clear_error():
    with start_chromium() as fresh, pytest.raises(BrowserError, match="call load"):
        fresh.report()
