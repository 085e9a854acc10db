"""Each retrieval is timed in the metrics (no label: nothing of the workspace)."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context
from prometheus_client import REGISTRY

from knowledge.retrieval import retrieve

pytestmark = pytest.mark.django_db


def test_a_retrieval_is_timed(tenant_a):
    before = REGISTRY.get_sample_value("saas_knowledge_retrieval_duration_seconds_count") or 0
    with tenant_context(tenant_a.tenant):
        retrieve(query="When do orders ship?")
    assert REGISTRY.get_sample_value("saas_knowledge_retrieval_duration_seconds_count") == before + 1
