"""One display name for instances: every view (the /usage views, relabel buttons, digest, alerts,
data-quality reports) names an instance through `scoring.model.instance_display_name`."""

from __future__ import annotations

import pytest

from db.models import Instance
from scoring.model import InstanceInfo, instance_display_name


@pytest.mark.parametrize(
    ("hostname", "namespace_name", "namespace_id", "expected"),
    [
        ("gitlab.acme.com", "acme-group", "42", "gitlab.acme.com"),
        (None, "acme-group", "42", "acme-group"),
        # Three variants used to disagree here: a bare "42" said nothing about what it was.
        (None, None, "42", "namespace 42"),
        ("", "", "", "sm:uuid|host"),
    ],
)
def test_the_name_people_recognise_first(
    hostname: str | None, namespace_name: str | None, namespace_id: str | None, expected: str
) -> None:
    assert instance_display_name(hostname, namespace_name, namespace_id, "sm:uuid|host") == expected
    info = InstanceInfo(
        id=1,
        identity="sm:uuid|host",
        delivery_type="SaaS",
        deployment_type="GitLab.com",
        label="Production",
        hostname=hostname,
        namespace_id=namespace_id,
        namespace_name=namespace_name,
    )
    row = Instance(identity="sm:uuid|host", hostname=hostname, namespace_id=namespace_id, namespace_name=namespace_name)
    assert info.display_name == row.display_name == expected
