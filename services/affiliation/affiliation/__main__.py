from carnet_runtime import run

from .app import create

run(create().service)
