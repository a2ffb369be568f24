# aewatch: a static binary on a small base with a shell (the sample
# producer in docker-compose.yml uses sh).
FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/aewatch ./cmd/aewatch

FROM alpine:3.22.2
RUN adduser -D -u 10001 aewatch
COPY --from=build /out/aewatch /usr/local/bin/aewatch
USER aewatch
EXPOSE 9464
ENTRYPOINT ["aewatch"]
CMD ["run", "--config", "/etc/aewatch/aewatch.yaml"]
