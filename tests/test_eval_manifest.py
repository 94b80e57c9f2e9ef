"""``manifest.json`` records backend, decoding and image budget, and guards them on restart."""

import json

from eval_folders import cli, error_of, predicted_folder


def test_the_manifest_records_backend_decoding_and_image_budget(tmp_path, tiny_model):
    out = tmp_path / "out"
    args = ["eval", "--model", tiny_model, "--datasets", "synthetic", "--out", out]
    args += ["--subset", "2", "--max-new-tokens", "4", "--n", "2", "--temperature", "0.7"]
    cli(*args)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == 2
    assert manifest["predictions"] == {
        "model": str(tiny_model),
        "adapter": None,
        "split": "test",
        "subset": 2,
        "source": "local",
        "backend": "transformers",
        "generation": {
            "n": 2,
            "temperature": 0.7,
            "top_p": 1.0,
            "max_new_tokens": 4,
            "seed": 0,
            "prompt": "general",
        },
        "image_budget": {"min_pixels": 3136, "max_pixels": 1003520},
    }

    # The folder was predicted by vLLM, say: continuing it with transformers would mix the two.
    manifest["predictions"]["backend"] = "vllm"
    (out / "manifest.json").write_text(json.dumps(manifest))
    predictions = (out / "synthetic" / "predictions.jsonl").read_text()
    result = cli(*args, code=2)
    assert error_of(result) == (
        f"{out} holds predictions made with other settings "
        "(backend: 'vllm' here, 'transformers' asked); use another --out folder"
    )
    assert (out / "synthetic" / "predictions.jsonl").read_text() == predictions


def test_a_folder_of_an_older_speciarl_is_reported_but_not_continued(tmp_path):
    out = predicted_folder(tmp_path / "old", ["circle", "I don't know"])
    settings = json.loads((out / "manifest.json").read_text())["predictions"]
    del settings["backend"], settings["image_budget"]
    (out / "manifest.json").write_text(json.dumps(settings))  # format 1: the settings alone
    predictions = (out / "synthetic" / "predictions.jsonl").read_text().splitlines()
    old_verdicts = [
        {
            "sample_id": record["sample_id"],
            "prediction_index": record["prediction_index"],
            "answer": "circle",
            "answer_status": "ok",
            "verdict": "generic",
            "judge": "taxonomy",
        }
        for record in map(json.loads, predictions)
    ]
    (out / "synthetic" / "verdicts.jsonl").write_text(
        "".join(json.dumps(record) + "\n" for record in old_verdicts)
    )

    cli("report", "--out", out, "--resamples", "20")
    report = json.loads((out / "report.json").read_text())
    assert report["judge"]["setup"] is None
    assert report["datasets"]["synthetic"]["judge"]["summary"] == "not recorded"
    assert report["datasets"]["synthetic"]["counts"]["generic"] == len(predictions)
    assert "Judge set-up: not recorded." in (out / "report.md").read_text()

    result = cli("verify", "--out", out, code=2)
    assert error_of(result) == (
        f"{out / 'manifest.json'}: written by an older speciarl that did not record the "
        "backend, image budget or judges; `speciarl report` still reads this folder, but "
        "predict and verify need a new --out folder"
    )
    assert not list((out / "synthetic").glob("verdicts-*"))
