"""The playground of the lecture notes (TensorFlow Playground's features on Tympan's engine): placeholder,
filled in by the playground work of issue 16."""

from fastapi import APIRouter


def router(max_sessions: int = 4) -> APIRouter:
    return APIRouter()
