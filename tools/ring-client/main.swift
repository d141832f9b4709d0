print("ring-client: not yet")
