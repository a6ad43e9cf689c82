from fastapi import APIRouter

OBJECTS_PREFIX = "/objects/"
router = APIRouter(prefix="/objects", tags=["objects"])
