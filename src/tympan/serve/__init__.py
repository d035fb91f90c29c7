"""``tympan serve``: Tympan on the web. For now its REST API (``api``): the models of a folder and
predictions on uploaded recordings, with OpenAPI documentation at ``/docs``.

FastAPI and uvicorn are the optional ``serve`` extra (``pip install tympan[serve]``): nothing else of
Tympan needs them.
"""

from .api import ModelShelf, create_app

__all__ = ["ModelShelf", "create_app"]
