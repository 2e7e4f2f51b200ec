"""Inbound adapters: wire formats in, `InboundMessage` out.

Each channel has a transport half (signature check, decryption, URL verification) and a pure
mapping half (parsed fields -> `app.messages.InboundMessage`). Every malformed input ends in
`app.adapters.errors.CallbackRejected`, which the web routes turn into a 4xx. Nothing here does
I/O or touches the database; the routes own persistence and answering.
"""
