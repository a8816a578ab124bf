#include "hyperion/storage/storage.h"

#include <cctype>
#include <filesystem>
#include <regex>

#include "hyperion/storage/postgres_storage.h"
#include "hyperion/storage/sqlite_storage.h"

namespace hyperion {

Json ExperimentRecord::ToJson() const {
  return Json{{"id", id},
              {"name", name},
              {"objective", {{"metric", objective_metric}, {"mode", ObjectiveModeName(objective_mode)}}},
              {"strategy", strategy},
              {"executor", executor},
              {"status", status},
              {"created_at", created_at},
              {"ended_at", ended_at ? Json(*ended_at) : Json()},
              {"owner", owner.empty() ? Json() : Json(owner)}};
}

std::string MaskStorageUrl(const std::string& url) { return PostgresStorage::MaskPassword(url); }

namespace {

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A storage string as it may be shown: passwords masked in URLs, in key=value form, and in mistyped URLs
// ("postgres:user:secret@host" shows as "postgres:…@host").
std::string SafeToShow(const std::string& text) {
  std::string out = std::regex_replace(MaskStorageUrl(text), std::regex("(password=)[^ &]*"), "$1***");
  if (out.find("://") == std::string::npos && out.find('@') != std::string::npos)
    out = out.substr(0, out.find(':') + 1) + "…" + out.substr(out.rfind('@'));
  return out;
}

}  // namespace

Result<std::unique_ptr<Storage>> OpenStorage(const std::string& url, bool create_if_missing) {
  const std::string lower = Lower(url);
  for (const std::string scheme : {"postgresql://", "postgres://"}) {
    if (lower.rfind(scheme, 0) != 0) continue;
    // Schemes are case-insensitive; libpq wants them in lower case.
    auto storage = PostgresStorage::Open(scheme + url.substr(scheme.size()), create_if_missing);
    if (!storage.ok()) return storage.status();
    return std::unique_ptr<Storage>(std::move(storage).value());
  }
  // A mistyped PostgreSQL URL (postgres:/..., postgresql//...) or libpq's key=value form must not become a
  // SQLite file named after it, nor be echoed with its password.
  if (lower.rfind("postgres", 0) == 0 || lower.find("password=") != std::string::npos ||
      (lower.find("host=") != std::string::npos && lower.find("dbname=") != std::string::npos)) {
    return InvalidArgumentError(
        "storage '" + SafeToShow(url) +
        "' looks like a PostgreSQL address but is not a postgresql:// URL; write "
        "postgresql://user@host:port/database (the password best in ~/.pgpass or $PGPASSWORD)");
  }
  const std::string sqlite_prefix = "sqlite://";
  std::string path = url;
  if (url.rfind(sqlite_prefix, 0) == 0) {
    path = url.substr(sqlite_prefix.size());
    // sqlite:////abs and sqlite:///abs both mean /abs.
    while (path.size() > 1 && path[0] == '/' && path[1] == '/') path.erase(0, 1);
  } else if (url.find("://") != std::string::npos) {
    std::string scheme = url.substr(0, url.find("://"));
    return InvalidArgumentError("storage '" + MaskStorageUrl(url) + "': unknown scheme '" + scheme +
                                "'; use sqlite:///path/to/file.db, a plain file path, or "
                                "postgresql://user:password@host:port/database");
  }
  if (path.empty())
    return InvalidArgumentError("storage '" + url + "' names no file; use sqlite:///path/to/file.db");
  if (!create_if_missing && !std::filesystem::exists(path)) {
    return NotFoundError("no experiment database at '" + path +
                         "'; run `hyperion run CONFIG` first, or point --storage at the database it wrote");
  }
  auto storage = SqliteStorage::Open(path, create_if_missing);
  if (!storage.ok()) return storage.status();
  return std::unique_ptr<Storage>(std::move(storage).value());
}

}  // namespace hyperion
