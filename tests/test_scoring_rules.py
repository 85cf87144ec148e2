"""Rules files: both bundled sets load; a bad custom file fails with the file and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scoring.rules import RULES_DIR, RulesError, load_rules, resolve_rules_path


def test_bundled_rule_sets_load_and_are_cached() -> None:
    current = load_rules()
    assert current.name == "gitlab-current" and load_rules("gitlab-current") is current
    old = load_rules("gitlab-2024")
    assert old.name == "gitlab-2024"
    assert sum(m.weight for m in current.measures.values()) == pytest.approx(1.0)
    assert current.scores == {"Red": 25, "Yellow": 63, "Green": 88}
    # The two sets differ only in SCM and CI.
    for key in ("license_utilization", "user_engagement", "cd", "security"):
        assert current.measures[key] == old.measures[key]
    assert current.measures["scm"] != old.measures["scm"] and current.measures["ci"] != old.measures["ci"]


def test_rules_file_holds_every_metric_column() -> None:
    cols = load_rules().columns()
    assert "ci_builds_28_days_event" in cols  # the CI fallback
    assert sum(1 for c in cols if c.endswith("_scans_28_days_event")) == 7
    assert "ci_internal_pipelines_28_days_event" in cols
    assert "ci_pipelines_28_days_user" in load_rules("gitlab-2024").columns()


def _write(tmp_path: Path, data: object, name: str = "custom.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def _base() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((RULES_DIR / "gitlab-current.yaml").read_text())


def test_custom_rules_file_by_path(tmp_path: Path) -> None:
    data = _base()
    data["name"] = "stricter"
    data["measures"]["scm"]["bands"][1]["up_to"] = 0.5
    rules = load_rules(str(_write(tmp_path, data)))
    assert rules.name == "stricter" and rules.measures["scm"].bands[1].up_to == 0.5


def _break(mutate) -> dict:  # type: ignore[no-untyped-def, type-arg]
    data = _base()
    mutate(data)
    return data


BAD = [
    ("not: [valid", "not valid YAML"),
    ("- just a list", "mapping at the top level"),
    (_break(lambda d: d["measures"]["scm"]["bands"].reverse()), "measures.scm.bands"),
    (_break(lambda d: d["measures"]["scm"]["bands"][0].update(up_to=0.5)), "band edges must increase"),
    (_break(lambda d: d["measures"]["scm"]["bands"][2].update(up_to=0.9)), "the last band"),
    (_break(lambda d: d["measures"].pop("cd")), "missing: ['cd']"),
    (_break(lambda d: d["measures"]["ci"].update(weight=-1)), "measures.ci.weight"),
    (_break(lambda d: d["scores"].update(Green=10)), "scores must increase"),
    (_break(lambda d: d["measures"]["scm"]["bands"][0].update(color="Purple")), "measures.scm.bands.0.color"),
    (_break(lambda d: d["measures"]["scm"]["value"].update(kind="median")), "measures.scm.value"),
    (_break(lambda d: d["measures"]["scm"].update(threshold=3)), "threshold"),
    (
        _break(lambda d: d["measures"]["license_utilization"]["age_bands"][1].update(from_months=5)),
        "age bands overlap",
    ),
]


@pytest.mark.parametrize(("content", "problem"), BAD)
def test_bad_custom_rules_file(tmp_path: Path, content: object, problem: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(RulesError) as err:
        load_rules(str(path))
    assert str(path) in str(err.value)
    assert problem in str(err.value)


def test_unknown_name_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="gitlab-2024, gitlab-current"):
        resolve_rules_path("gitlab-1999")
    with pytest.raises(RulesError, match="not found"):
        load_rules(str(tmp_path / "nope.yaml"))


def test_edited_file_is_reread(tmp_path: Path) -> None:
    data = _base()
    path = _write(tmp_path, data)
    assert load_rules(str(path)).measures["scm"].weight == 0.15
    data["measures"]["scm"]["weight"] = 0.2
    import os

    path.write_text(yaml.safe_dump(data))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert load_rules(str(path)).measures["scm"].weight == 0.2
