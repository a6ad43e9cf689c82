from boothcloud.jobs import Job
from boothcloud.settings import Settings


def jobs(settings: Settings) -> list[Job]:
    return []
