"""What the local provider sinks (SendGrid's in `sink`, Twilio's in `twilio_sink`) share: the HTTP
server's plumbing and fault injection (`http.py`), the command line's serve loop (`cli.py`) and the
daily JSON Lines files their event exports merge into (`daily_files.py`)."""
