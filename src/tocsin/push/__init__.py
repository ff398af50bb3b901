"""Web Push (DESIGN §8): VAPID keys, payloads, sending, and which push services are allowed.

Import the modules themselves (``tocsin.push.sender``…): this package imports nothing, so
that reading the allow-list does not load the HTTP and crypto libraries.
"""
