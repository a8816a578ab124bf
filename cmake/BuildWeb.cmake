# Builds the dashboard's front end: `npm ci` when web/node_modules is missing or older than the lock file (the
# only time the build may need the network), then web/build.mjs (esbuild) writes app.js, app.css and
# index.html to WEB_OUT and embeds them in CC_FILE. Run by src/hyperion/dashboard/CMakeLists.txt.
set(stamp ${WEB_DIR}/node_modules/.package-lock.json)
if(NOT EXISTS ${stamp} OR ${WEB_DIR}/package-lock.json IS_NEWER_THAN ${stamp})
  execute_process(COMMAND ${NPM} ci --no-audit --no-fund WORKING_DIRECTORY ${WEB_DIR} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "npm ci in ${WEB_DIR} failed (${rc})")
  endif()
endif()
execute_process(COMMAND ${NODE} build.mjs ${WEB_OUT} ${CC_FILE} WORKING_DIRECTORY ${WEB_DIR} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the front end (node web/build.mjs) failed (${rc})")
endif()
