# The visitor API's fixtures (a visitor of tenant A, the fake LLM provider), for the
# widget's timing reports; a widget of tenant A, its schema active, for the rollups' tests.
import pytest
from django_tenants.utils import tenant_context

from tests.chat.conftest import fake_llm, visitor
from tests.widget_builder.factories import WidgetFactory

__all__ = ["fake_llm", "visitor"]


@pytest.fixture
def workspace(tenant_a):
    with tenant_context(tenant_a.tenant):
        yield WidgetFactory(name="Insights widget")
