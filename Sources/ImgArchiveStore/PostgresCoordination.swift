/// The tables only many workers need (PostgreSQL only): claims on URLs and a host's request slots, each with a
/// lease that expires.
enum PostgresCoordination {
    static let migrations: [(identifier: String, sql: String)] = [
        (
            "scale-out-v1",
            """
            CREATE TABLE url_claim (
                url        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
                worker     TEXT NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL,
                done_at    TEXT COLLATE "C"
            );
            CREATE INDEX url_claim_by_worker ON url_claim(worker);
            CREATE TABLE host_slot (
                host       TEXT COLLATE "C" NOT NULL,
                slot       BIGINT NOT NULL,
                worker     TEXT,
                expires_at TIMESTAMPTZ,
                PRIMARY KEY (host, slot)
            );
            """
        )
    ]
}
