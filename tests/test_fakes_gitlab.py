"""The fake GitLab answers python-gitlab as the real API does, including injected failures."""

from __future__ import annotations

import gitlab
import pytest
from fakes.gitlab import TOKEN, FakeGitLab


@pytest.fixture
def fake_gitlab():
    with FakeGitLab() as fake:
        yield fake


def test_python_gitlab_creates_and_finds_issues(fake_gitlab: FakeGitLab) -> None:
    gl = gitlab.Gitlab(fake_gitlab.url, private_token=TOKEN, retry_transient_errors=False)
    project = gl.projects.get("gitlab-data/analytics")
    issue = project.issues.create(
        {"title": "Wrong seats", "description": "key: abc", "labels": ["data quality"], "confidential": True}
    )
    assert issue.iid == 1 and issue.confidential is True
    found = project.issues.list(search="key: abc", state="opened", get_all=True)
    assert [i.iid for i in found] == [1]
    issue.notes.create({"body": "+1 from @avery"})
    assert fake_gitlab.issues("gitlab-data/analytics")[0]["notes"][0]["body"] == "+1 from @avery"


def test_injected_failures_reach_python_gitlab(fake_gitlab: FakeGitLab) -> None:
    gl = gitlab.Gitlab(fake_gitlab.url, private_token=TOKEN, retry_transient_errors=False)
    fake_gitlab.fail(503, times=1)
    with pytest.raises(gitlab.exceptions.GitlabGetError) as err:
        gl.projects.get("gitlab-org/product-analytics")
    assert err.value.response_code == 503
    assert gl.projects.get("gitlab-org/product-analytics").id == 1
    bad = gitlab.Gitlab(fake_gitlab.url, private_token="wrong")
    with pytest.raises(gitlab.exceptions.GitlabAuthenticationError) as auth_err:
        bad.projects.get("gitlab-org/product-analytics")
    assert auth_err.value.response_code == 401
