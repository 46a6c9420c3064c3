"""Generated from protos/tts by protos/generate.py; do not edit."""
