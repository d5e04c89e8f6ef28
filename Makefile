.PHONY: up down logs test up-scale down-scale

# Build and start the service in the background on localhost:8000.
up:
	docker compose up -d --build

# Stop the service and delete its volume (the stored messages).
down:
	docker compose down -v

# Scale-out: PostgreSQL, three Inlet replicas and nginx on localhost:8080.
up-scale:
	docker compose --profile scale up -d --build db replica lb

# Stop every service, scale-out included, and delete their volumes (all stored messages).
down-scale:
	docker compose --profile scale down -v

# Follow the service's JSON log lines.
logs:
	docker compose logs -f --no-log-prefix api

# Install dependencies and run the test suite (no Docker needed).
test:
	npm ci
	npm test
