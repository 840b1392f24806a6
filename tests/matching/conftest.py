# Kept for imports of older tests: the helpers moved to tests/helpers.py and the
# fixtures (funded, matcher) to tests/conftest.py.
from tests.helpers import BTC, USD, bal, place  # noqa: F401
