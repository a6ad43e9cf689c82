from fastapi import APIRouter

router = APIRouter(prefix="/api/photos", tags=["photos"])
