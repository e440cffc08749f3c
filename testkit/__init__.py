"""The testing kit the tests, the benchmark (bench/) and the soak (soak/) share; it never imports the tests.

- `twilio_api`: the bodies of Twilio's REST API (Messages and Media resources).
- `fake_twilio`: the one fake Twilio REST API, mounted in a test's own loop or served in a thread; what it
  models of WhatsApp (its clock and the 24-hour window, statuses and their callbacks, customers' messages)
  is in `fake_whatsapp`, its Content API in `fake_content`, its media in `fake_media`, what it posts to the
  gateway in `fake_webhooks`.
- `signing`: X-Twilio-Signature, as Twilio signs a webhook.
- `stack`: a stack of our own on its own ports and stores, and a database link that can be cut.
- `load`: the load generator: webchat and WhatsApp senders, arrivals at a rate or closed loop, answers
  matched to what was sent, counted as answered, lost, duplicated, late.
- `audit`: what was sent, stored and delivered, matched message by message after a load.
"""
