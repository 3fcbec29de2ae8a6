#!/usr/bin/env bash
# GlobalData interop with the PHP originals, both ways:
#   * PHP's GlobalData\Client against our GlobalDataServer;
#   * our GlobalDataClient against PHP's GlobalData\Server (run by PHP Workerman).
# The PHP sources are not part of this repository: point the script at local copies.
#
#   GLOBALDATA_PHP_SRC=/path/to/walkor-GlobalData WORKERMAN_PHP_SRC=/path/to/walkor-workerman \
#     scripts/globaldata_php_interop.sh
#
# GLOBALDATA_PHP_SRC holds src/Client.php and src/Server.php; WORKERMAN_PHP_SRC holds src/Worker.php.
# PHP_SERVER_PORT (default 2218) is where the PHP server listens. Needs php-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GLOBALDATA_PHP_SRC:?set GLOBALDATA_PHP_SRC to a copy of walkor/GlobalData}"
: "${WORKERMAN_PHP_SRC:?set WORKERMAN_PHP_SRC to a copy of walkor/workerman}"
PORT=${PHP_SERVER_PORT:-2218}
DIR=$(mktemp -d /tmp/gd_php_interop.XXXXXX)
cat > "$DIR/start.php" <<PHP
<?php
spl_autoload_register(function (\$c) {
    foreach (['Workerman\\\\' => getenv('WORKERMAN_PHP_SRC') . '/src/', 'GlobalData\\\\' => getenv('GLOBALDATA_PHP_SRC') . '/src/'] as \$prefix => \$dir) {
        if (strpos(\$c, \$prefix) === 0) {
            \$f = \$dir . str_replace('\\\\', '/', substr(\$c, strlen(\$prefix))) . '.php';
            if (is_file(\$f)) { require \$f; return; }
        }
    }
});
Workerman\Worker::\$pidFile = '$DIR/php.pid';
Workerman\Worker::\$logFile = '$DIR/php.log';
new GlobalData\Server('127.0.0.1', $PORT);
Workerman\Worker::runAll();
PHP
export GLOBALDATA_PHP_SRC WORKERMAN_PHP_SRC
php "$DIR/start.php" start -d >"$DIR/php.out" 2>&1
trap 'php "$DIR/start.php" stop >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
GLOBALDATA_PHP_SERVER=127.0.0.1:$PORT cargo test -p workerman-global-data --test php_interop -- --nocapture
echo "PHP server log:"; cat "$DIR/php.log" 2>/dev/null || true
