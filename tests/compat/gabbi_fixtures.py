"""The fixture heat-tempest-plugin's gabbits name: it puts a token in OS_TOKEN (and a name
prefix in PREFIX) for the YAML files, from the suite's own credentials."""
import os
import uuid

from gabbi import fixture

import conftest


class AuthenticationFixture(fixture.GabbiFixture):
    def start_fixture(self):
        if conftest.AUTH == "keystone":
            token, _ = conftest.keystone_token(os.environ["OS_USERNAME"], os.environ["OS_PASSWORD"],
                                               os.environ["OS_PROJECT_NAME"])
        else:
            token = "unused-without-keystone"
        os.environ["OS_TOKEN"] = token
        os.environ.setdefault("PREFIX", "api-" + uuid.uuid4().hex[:8])

    def stop_fixture(self):
        pass
