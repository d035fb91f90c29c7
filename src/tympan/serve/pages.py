"""The pages of ``tympan serve``: the analysis page (``/``), the playground (``/playground``) and the runs
(``/runs``). They are plain HTML, CSS and JavaScript shipped in the package (``static/``), nothing loaded from
the internet, and they speak to the server through its REST API only."""

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
PAGES = {"/": "analysis.html", "/playground": "playground.html", "/runs": "runs.html"}


def add_pages(app: FastAPI) -> None:
    """The three pages, and their scripts and styles under ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for route, name in PAGES.items():
        app.add_api_route(route, _page(name), methods=["GET"], include_in_schema=False)


def _page(name: str):
    def page():
        path = STATIC / name
        if not path.is_file():
            raise HTTPException(404, f"this installation has no {name}")
        return FileResponse(path, media_type="text/html")
    return page
