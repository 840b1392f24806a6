"""WSGI entry point: lets REST be served by a WSGI server in production."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
application = get_wsgi_application()

# The objects loaded so far (Django, the apps, their modules) live as long as
# the process: keep them out of the cyclic collector's full passes, which
# otherwise walk them all and add milliseconds to unlucky requests.
gc.freeze()
