internal import CPostgres
import Foundation
import GRDB

/// One libpq connection (`PGconn`). Not thread-safe: its owner (`PostgresManifest`, `PostgresClaims`) uses it from
/// one serial queue, never from Swift's cooperative pool (libpq's calls block on the network).
///
/// Statements are written with SQLite's `?` placeholders (the manifest's SQL is shared in spirit with
/// `SQLiteManifest`) and numbered `$1, $2, ...` here; arguments and results are GRDB `DatabaseValue`s, so rows
/// decode into the records through `Fetched` exactly as SQLite rows do (dates as GRDB's text, blobs as bytea).
final class PostgresConnection {
    /// The connection URL without its password, for messages.
    let location: String
    private let conninfo: String
    private var handle: OpaquePointer?
    /// Set when a statement failed without a server's SQLSTATE (libpq lost the server): libpq may still report
    /// the connection as open until it next tries it, but it is not trusted again before a reconnect.
    private var lost = false

    /// Connects to `url` (`postgres://user@host:port/db`; the password from `PGPASSWORD` or `~/.pgpass`).
    init(url: String) throws(StoreError) {
        conninfo = url
        location = Self.redacted(url)
        handle = PQconnectdb(url)
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.text(PQerrorMessage(handle))
            PQfinish(handle)
            handle = nil
            throw StoreError(
                code: .unavailable, path: location,
                message: "cannot connect to PostgreSQL at \(location): \(message)")
        }
        // The server's notices and warnings ("terminating connection due to ...") are not printed to stderr by
        // libpq: a lost connection is an error the caller handles.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        _ = try? execute("SET client_min_messages = warning")
    }

    deinit { PQfinish(handle) }

    /// Whether the connection is usable (false once the server went away).
    var isOpen: Bool { handle != nil && !lost && PQstatus(handle) == CONNECTION_OK }

    /// Reconnects with the same settings; throws `.unavailable` while the server does not answer.
    func reconnect() throws(StoreError) {
        PQreset(handle)
        lost = false
        guard PQstatus(handle) == CONNECTION_OK else {
            throw StoreError(
                code: .unavailable, path: location,
                message: "cannot reconnect to PostgreSQL at \(location): \(Self.text(PQerrorMessage(handle)))")
        }
        _ = try? execute("SET client_min_messages = warning")
    }

    /// Runs one statement (`?` placeholders) with its arguments and returns its rows and the count of rows it
    /// changed.
    @discardableResult
    func execute(_ sql: String, _ arguments: [(any DatabaseValueConvertible)?] = []) throws(StoreError)
        -> PostgresResult
    {
        let numbered = Self.numbered(sql)
        var values: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var types: [Oid] = []
        defer { for value in values { free(value) } }
        for argument in arguments {
            switch argument?.databaseValue.storage {
            case .none, .null:
                values.append(nil)
                lengths.append(0)
                formats.append(0)
                types.append(0)
            case .int64(let int):
                values.append(strdup(String(int)))
                lengths.append(0)
                formats.append(0)
                types.append(0)
            case .double(let double):
                values.append(strdup(String(double)))
                lengths.append(0)
                formats.append(0)
                types.append(0)
            case .string(let string):
                values.append(strdup(string))
                lengths.append(0)
                formats.append(0)
                types.append(0)
            case .blob(let data):
                // Binary format: the bytes as they are, typed bytea.
                let buffer = malloc(max(data.count, 1))!.assumingMemoryBound(to: CChar.self)
                data.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { memcpy(buffer, base, data.count) }
                }
                values.append(buffer)
                lengths.append(Int32(data.count))
                formats.append(1)
                types.append(17)
            }
        }
        let result: OpaquePointer? = values.withUnsafeBufferPointer { valuePointers in
            valuePointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { constValues in
                PQexecParams(
                    handle, numbered, Int32(arguments.count), types, constValues.baseAddress, lengths, formats, 0)
            }
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw error(result, statement: sql)
        }
        return PostgresResult(result)
    }

    /// Runs several statements without arguments (a migration) in one call.
    func executeScript(_ sql: String) throws(StoreError) {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw error(result, statement: sql)
        }
    }

    /// Runs one statement and decodes each row as `Record` (columns matched to properties as `Fetched` does).
    func fetchAll<Record: Decodable & Sendable>(
        _ type: Record.Type, _ sql: String, _ arguments: [(any DatabaseValueConvertible)?] = []
    ) throws(StoreError) -> [Record] {
        let result = try execute(sql, arguments)
        do {
            return try result.rows.map { row in try Fetched<Record>(row: row).record }
        } catch {
            throw StoreError(
                code: .corrupt, path: location, message: "a row of \(location) does not decode: \(error)",
                underlying: error)
        }
    }

    /// The one place libpq's failures become `StoreError` codes (by SQLSTATE; see PostgreSQL's appendix A).
    private func error(_ result: OpaquePointer?, statement: String) -> StoreError {
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        var message = Self.text(PQresultErrorMessage(result))
        if message.isEmpty { message = Self.text(PQerrorMessage(handle)) }
        let code: StoreError.Code
        switch state {
        // No SQLSTATE: the failure is libpq's own, the server closed the connection or cannot be reached
        // ("server closed the connection unexpectedly" comes while PQstatus may still say OK).
        case nil, "57P01", "57P02", "57P03":
            code = .unavailable
            if state == nil { lost = true }
        case let s? where s.hasPrefix("08"): code = .unavailable
        case "40001", "40P01", "55P03": code = .busy
        case "53100": code = .diskFull
        case "XX001", "XX002": code = .corrupt
        default: code = .database
        }
        let head = statement.split(separator: "\n").first.map(String.init) ?? statement
        return StoreError(
            code: code, path: location,
            message: "PostgreSQL at \(location) [\(state ?? "no SQLSTATE")]: \(message) (in: \(head.prefix(120)))")
    }

    /// `?` placeholders as `$1, $2, ...`, outside quoted strings and identifiers.
    static func numbered(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var n = 0
        var quote: Character?
        for character in sql {
            if let q = quote {
                if character == q { quote = nil }
                out.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                out.append(character)
            } else if character == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// A PostgreSQL array literal of texts (`{"a","b"}`), for `= ANY(?::text[])`.
    static func textArray(_ values: some Sequence<String>) -> String {
        "{"
            + values.map { value in
                "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                    + "\""
            }.joined(separator: ",") + "}"
    }

    /// A connection URL without its password.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = nil
        return components.string ?? url
    }

    private static func text(_ pointer: UnsafePointer<CChar>?) -> String {
        pointer.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
    }
}

/// The rows of a statement as GRDB `Row`s (integers as Int64, bytea as Data, the rest as text) and the count
/// of rows it changed.
struct PostgresResult {
    var rows: [Row] = []
    var changes = 0

    fileprivate init(_ result: OpaquePointer?) {
        changes = Int(String(cString: PQcmdTuples(result))) ?? 0
        let columns = Int(PQnfields(result))
        let names = (0..<columns).map { String(cString: PQfname(result, Int32($0))) }
        let types = (0..<columns).map { PQftype(result, Int32($0)) }
        for r in 0..<PQntuples(result) {
            var dictionary: [String: (any DatabaseValueConvertible)?] = [:]
            for c in 0..<columns {
                if PQgetisnull(result, r, Int32(c)) == 1 {
                    dictionary[names[c]] = DatabaseValue.null
                    continue
                }
                let text = String(cString: PQgetvalue(result, r, Int32(c)))
                switch types[c] {
                case 20, 21, 23: dictionary[names[c]] = Int64(text)
                case 16: dictionary[names[c]] = text == "t" ? Int64(1) : Int64(0)
                case 700, 701, 1700: dictionary[names[c]] = Double(text)
                case 17: dictionary[names[c]] = Self.bytea(text)
                default: dictionary[names[c]] = text
                }
            }
            rows.append(Row(dictionary))
        }
    }

    /// The first column of every row.
    func column<Value: DatabaseValueConvertible>(_ type: Value.Type) -> [Value] {
        rows.compactMap { row in row.databaseValues.first.flatMap { Value.fromDatabaseValue($0) } }
    }

    /// Bytea's text output (`\x` then hex) as bytes.
    private static func bytea(_ text: String) -> Data {
        var data = Data(capacity: max(0, text.utf8.count / 2 - 1))
        var high: UInt8?
        for byte in text.utf8.dropFirst(2) {
            let nibble: UInt8
            switch byte {
            case 0x30...0x39: nibble = byte - 0x30
            case 0x61...0x66: nibble = byte - 0x61 + 10
            case 0x41...0x46: nibble = byte - 0x41 + 10
            default: continue
            }
            if let h = high {
                data.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return data
    }
}

extension StoreError.Code {
    /// The manifest's database server cannot be reached (down, restarting, or the connection was lost); the
    /// operation may succeed once it is back.
    public static let unavailable = StoreError.Code(rawValue: "unavailable")
}
