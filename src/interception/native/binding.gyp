{
  "targets": [
    {
      "target_name": "switchyard_interception",
      "sources": ["interception.c", "relay.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["_GNU_SOURCE"]
    }
  ]
}
