#include "hyperion/storage/storage.h"

#include <filesystem>

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

Result<std::unique_ptr<Storage>> OpenStorage(const std::string& url, bool create_if_missing) {
  for (const char* scheme : {"postgresql://", "postgres://"}) {
    if (url.rfind(scheme, 0) != 0) continue;
    auto storage = PostgresStorage::Open(url, create_if_missing);
    if (!storage.ok()) return storage.status();
    return std::unique_ptr<Storage>(std::move(storage).value());
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
