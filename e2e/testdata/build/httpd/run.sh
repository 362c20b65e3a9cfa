#!/bin/sh
exec httpd -f -p 80 -h /var/www/html
