.PHONY: up down logs test

# Build and start the service in the background on localhost:8000.
up:
	docker compose up -d --build

# Stop the service and delete its volume (the stored messages).
down:
	docker compose down -v

# Follow the service's JSON log lines.
logs:
	docker compose logs -f api

# Install dependencies and run the test suite (no Docker needed).
test:
	npm ci
	npm test
