Feature: Facility and health worker registry: where care is, and who gives it

  Kestria's directory (1,000 facilities, 5,000 health workers) answers the questions a district
  health office asks, through the interoperability layer as the care-services test client.

  Background:
    Given I use basic auth as "${CARE_SERVICES_TEST_CLIENT_ID}" with password "${CARE_SERVICES_TEST_CLIENT_PASSWORD}"

  Scenario: Facilities within 10 km of Sandrae District Hospital that offer immunisation, nearest first
    When I send a GET request to "${BASE_URL}/care-services/fhir/Location?near=-9.924619|32.83886|10|km&_has:HealthcareService:location:service-type=http://terminology.hl7.org/CodeSystem/service-type|57&_total=accurate"
    Then the response status is 200
    And the response JSON at "total" is "5"
    And the response JSON at "entry.0.resource.id" is "loc-fac-0001"
    And the response JSON at "entry.1.resource.id" is "loc-fac-0449"
    And the response JSON at "entry.2.resource.id" is "loc-fac-0141"

  Scenario: Who works at Sandrae District Hospital, with their names
    When I send a GET request to "${BASE_URL}/care-services/fhir/PractitionerRole?location=Location/loc-fac-0001&active=true&_include=PractitionerRole:practitioner&_total=accurate&_count=100"
    Then the response status is 200
    And the response JSON at "total" is "47"
    And the response JSON at "entry.0.resource.resourceType" is "PractitionerRole"
    And the response body contains "\"resourceType\":\"Practitioner\""

  Scenario: All facilities in Sandrae District, and the district's place in the country
    When I send a GET request to "${BASE_URL}/care-services/fhir/Location?partof:below=Location/loc-district-01&type=https://profiles.ihe.net/ITI/mCSD/CodeSystem/IHE.mCSD.Organization.Location.Types|facility&_total=accurate&_count=100"
    Then the response status is 200
    And the response JSON at "total" is "36"
    When I send a GET request to "${BASE_URL}/care-services/fhir/Location?_id=loc-district-01&_include:iterate=Location:partof"
    Then the response status is 200
    And the response body contains "Northern Region"
    And the response body contains "Republic of Kestria"

  Scenario: The whole country: every facility hangs under Kestria
    When I send a GET request to "${BASE_URL}/care-services/fhir/Location?partof:below=Location/loc-kestria&type=https://profiles.ihe.net/ITI/mCSD/CodeSystem/IHE.mCSD.Organization.Location.Types|facility&_summary=count"
    Then the response status is 200
    And the response JSON at "total" is "1000"

  Scenario: A bad point is a 400 OperationOutcome
    When I send a GET request to "${BASE_URL}/care-services/fhir/Location?near=-91|32.8|10|km"
    Then the response status is 400
    And the response JSON at "resourceType" is "OperationOutcome"
