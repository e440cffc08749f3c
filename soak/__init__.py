"""The soak run (`python -m soak`): the testing kit's stack, load and audit (testkit/), for minutes on end."""
