"""Generated from protos/tts/v1 by protos/generate.py; do not edit."""
