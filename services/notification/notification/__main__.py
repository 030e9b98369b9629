from carnet_runtime import run

from .app import create_service

run(create_service)
