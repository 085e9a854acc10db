# The visitor API's fixtures (a visitor of tenant A, the fake LLM provider), for the
# widget's timing reports.
from tests.chat.conftest import fake_llm, visitor

__all__ = ["fake_llm", "visitor"]
