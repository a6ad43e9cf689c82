from fastapi import APIRouter

router = APIRouter(prefix="/api/printers", tags=["printers"])
