# syntax=docker/dockerfile:1
# Builds the single stateward binary (cgo for SQLite, linked statically) and ships
# it on a distroless base. The data directory is a volume at /data.
FROM golang:1.27.3-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath \
      -tags 'netgo osusergo sqlite_omit_load_extension' \
      -ldflags '-s -w -linkmode external -extldflags "-static"' \
      -o /out/stateward ./cmd/stateward

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/stateward /usr/local/bin/stateward
ENV STATEWARD_ADDR=0.0.0.0:8080 \
    STATEWARD_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/stateward"]
CMD ["serve"]
