"""Faithful local fakes of the networks' HTTP APIs (test and demo servers, shipped because
``aircraftml fake-*`` and the demo use them). The fake X lives in ``platforms/fake_x*.py``."""
