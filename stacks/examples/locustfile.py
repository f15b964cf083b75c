# The demo's test (npm run demo): a page, a small JSON API and a 64 KB file on the local target's nginx.
from locust import HttpUser, between, task


class Visitor(HttpUser):
    wait_time = between(0.05, 0.2)

    @task(5)
    def home(self):
        self.client.get("/")

    @task(3)
    def items(self):
        self.client.get("/api/items")

    @task(1)
    def big(self):
        self.client.get("/static/big")
