-- One database per service, plus the local event bus: run once by the postgres image at first start.
CREATE DATABASE product;
CREATE DATABASE basket;
CREATE DATABASE ordering;
CREATE DATABASE identity;
CREATE DATABASE bus;
